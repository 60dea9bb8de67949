from robyn_server.cli import main

main()
