"""The web app: server-rendered pages over the publisher and feed HTTP APIs."""
