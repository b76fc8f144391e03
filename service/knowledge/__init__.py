"""Knowledge: articles and known problems."""
