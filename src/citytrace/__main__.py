from citytrace.cli import main

main()
