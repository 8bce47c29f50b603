from fnflow.cli import main

main()
