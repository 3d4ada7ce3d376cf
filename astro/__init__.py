"""astro: star-cluster mass, age, extinction and metallicity from integrated photometry."""
