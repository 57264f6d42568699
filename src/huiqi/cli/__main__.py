from huiqi.cli import main

main()
