{
  "targets": [
    {
      "target_name": "rnnx_native",
      "sources": [ "native/binding.cc", "native/cpu_features.cc", "native/thread_pool.cc", "native/gemm.cc", "native/gemm_avx2.cc", "native/gemm_avx512.cc" ],
      "include_dirs": [ "<!(node -p \"require('node-addon-api').include_dir\")", "native" ],
      "defines": [ "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS" ],
      "cflags!": [ "-fno-exceptions" ],
      "cflags_cc!": [ "-fno-exceptions", "-std=gnu++17" ],
      "cflags_cc": [ "-std=c++17", "-O3", "-fexceptions", "-pthread" ],
      "ldflags": [ "-pthread" ]
    }
  ]
}
