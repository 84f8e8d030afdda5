from ironworks.cli.main import cli

cli()
