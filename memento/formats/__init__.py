"""File formats memento reads and writes. Each module takes a Memento's public API, nothing below it."""
