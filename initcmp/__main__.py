from initcmp.cli import entry

entry()
