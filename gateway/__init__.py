"""The robots' chat gateway: OpenAI-compatible chat for robots, routed by their assigned model.

Discord-free: the device API serves it over HTTP (gateway/http.py), the bot's /try calls
:class:`gateway.service.Gateway` directly. A robot is known by its key (keys.py); its model is
the one assigned to it now; OpenAI models go to OpenAI with kobo's key, local fine-tunes
(local_models.py) to the inference engine (engine.py) or an external OpenAI-compatible server.
"""
