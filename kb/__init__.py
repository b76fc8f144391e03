"""Knowledge store: clients, infrastructure, specialists, tickets, articles, known problems, audit."""
