{
  "targets": [
    {
      "target_name": "rnnx_native",
      "dependencies": [ "native/cuda/cuda.gyp:rnnx_cuda" ],
      "sources": [
        "native/binding.cc", "native/binding_args.cc", "native/trainer_wrap.cc",
        "native/cpu_features.cc", "native/thread_pool.cc", "native/gemm.cc", "native/gemm_avx2.cc", "native/gemm_avx512.cc", "native/gemm_binding.cc",
        "native/recurrent.cc", "native/cell_kernels.cc", "native/lstm.cc", "native/gru.cc", "native/rnn.cc", "native/dense.cc", "native/loss.cc",
        "native/optimizer.cc", "native/network.cc", "native/trainer.cc"
      ],
      "include_dirs": [ "<!(node -p \"require('node-addon-api').include_dir\")", "native" ],
      "defines": [ "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL" ],
      "cflags!": [ "-fno-exceptions" ],
      "cflags_cc!": [ "-fno-exceptions", "-std=gnu++17" ],
      "cflags_cc": [ "-std=c++17", "-O3", "-fexceptions", "-pthread" ],
      "ldflags": [ "-pthread" ],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "MACOSX_DEPLOYMENT_TARGET": "11.0" },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": [ "/std:c++17" ] } }
    }
  ]
}
