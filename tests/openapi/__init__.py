"""OpenAI's published schemas (the part kobo serves) and the clients that check against them."""
