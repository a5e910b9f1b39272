from lightning_occ.cli import main

main()
