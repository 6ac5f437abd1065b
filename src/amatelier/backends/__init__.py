"""One module per model provider; SDKs are imported only inside the backend that uses them."""
