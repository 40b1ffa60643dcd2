"""Future saves: opted-in fans carried over to the artist's next campaigns, daily."""
