from initcmp.cli.main import entry

entry()
