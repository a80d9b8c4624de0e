"""The cryptoql server: settings, lifespan, Starlette app, GraphQL view, CLI."""
