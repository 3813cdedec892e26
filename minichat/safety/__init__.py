"""Guards at the edges: files read within bounds and written atomically (``files``),
text minichat did not write made safe to show (``untrusted``), and Ctrl+C as a polite
request (``interrupts``)."""
