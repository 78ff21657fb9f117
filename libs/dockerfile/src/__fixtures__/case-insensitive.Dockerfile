from alpine As Builder
Run echo mixed
fRoM builder
CoPy --from=BUILDER / /x
