from samlite.cli import main

main()
