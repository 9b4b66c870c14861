"""The config: typed schemas of every group, rules that span groups, and where hub resources come from."""
