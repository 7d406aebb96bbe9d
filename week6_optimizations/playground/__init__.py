"""The playground: the course's runs behind OpenAI's API, on this machine (make serve).

api.py         the request bodies and OpenAI's error JSON
store.py       run names -> loaded models (only runs under runs/)
generation.py  one request's tokens, with probabilities and alternatives, a step lock shared
app.py         the FastAPI application: /health, /v1/models, completions, chat, streaming
cli.py         `python -m week6_optimizations.playground serve` (uvicorn on 127.0.0.1)
"""
