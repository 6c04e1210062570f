from dingstore.cli.main import app

app()
