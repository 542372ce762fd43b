"""Pure core: IINs, eligibility rules, precinct resolution. Standard library only."""
