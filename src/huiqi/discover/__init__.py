"""Finding policies: Chinese search, industry words people use, recommendation."""
