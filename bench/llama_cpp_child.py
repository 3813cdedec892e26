"""llama.cpp's side of ``bench/fast.py``, run by a Python that has ``llama_cpp``.

llama-cpp-python is a benchmark-only extra, kept out of minichat's environment (it
compiles llama.cpp, about 15 minutes on 2 cores): ``make llama-bench`` builds it
into ``.venv-llama``. ``bench/fast.py`` starts this script there with the GGUF file
and a thread count, then sends one JSON line per run, ``{"ids": [...], "n": N}``,
and reads back ``{"decode": tok/s, "ttft": s}``. The model loads once; every run
starts from an empty cache (a cold prefill, as minichat's runs do).
"""

from __future__ import annotations

import json
import sys
import time

from llama_cpp import Llama


def main() -> None:
    path, threads = sys.argv[1], int(sys.argv[2])
    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_batch=512, verbose=False)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        llm.reset()
        start = time.perf_counter()
        times = []
        for _ in llm.create_completion(
            request["ids"], max_tokens=request["n"], temperature=0.0, top_k=1, stream=True
        ):
            times.append(time.perf_counter())
        decode = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        print(json.dumps({"decode": decode, "ttft": times[0] - start}), flush=True)


if __name__ == "__main__":
    main()
