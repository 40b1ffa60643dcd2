from presave.cli import main

main()
