"""Background work the platform can see: turns run by a queue-triggered function of the same app.

``AgentFunctionApp(background=True)`` registers the work-queue and poison-queue triggers and lets the chat
route answer ``"async": true`` with ``202``; ``service.BackgroundTurns`` is the programmatic entry point. Nothing
here imports a cloud SDK until a queue or store is first used (see docs/background.md).
"""
