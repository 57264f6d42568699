from huiqi.cli.main import app

app(prog_name="huiqi")
