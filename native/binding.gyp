{
  "targets": [
    {
      "target_name": "yukuai_ed25519",
      "sources": ["src/addon.c", "src/verify.c", "src/scalar.c", "src/sha512.c"],
      "cflags": ["-O3", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags!": ["-O2", "-O0"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["target_arch not in 'x64 arm64'", { "type": "none" }]
      ]
    }
  ]
}
