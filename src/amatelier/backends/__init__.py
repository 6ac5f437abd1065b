"""One module per model provider; SDKs are imported only inside the backend that uses them.

Owns the provider clients (claude-code CLI, anthropic-sdk, openai-compat, gemini, offline), the
Completion record, retries with backoff and `retry-after`, and error mapping. It may import the
offline model (offline/) and the top-level modules (config, paths, pricing) only; everything
else reaches it through amatelier.llm_backend or chat.llm_calls.
"""
