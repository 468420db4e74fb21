from vohub.cli.main import main

main()
