"""The audience: who listened and watched, on which surface, from which country and player,
for how long — as sessions in one ledger, with no raw address kept."""
