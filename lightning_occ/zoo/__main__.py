"""``python -m lightning_occ.zoo list|info NAME|readme`` (also ``lightning-occ zoo ...``)."""

from lightning_occ.zoo.commands import main

if __name__ == "__main__":
    main()
