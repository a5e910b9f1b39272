from lightning_occ.console import main

main()
