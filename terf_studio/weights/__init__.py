"""Model files: the registry (what each is, where it is looked for, checks, ``models add``) and
the one download (``models download``). Weights are loaded by the packages that use them."""
