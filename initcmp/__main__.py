from initcmp.cli import main

main()
