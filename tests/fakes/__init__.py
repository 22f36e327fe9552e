"""In-process fakes of the platforms' servers (the Telegram Bot API) for tests and benchmarks."""
