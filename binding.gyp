{
  "targets": [
    {
      "target_name": "rnnx_native",
      "dependencies": [ "native/cuda/cuda.gyp:rnnx_cuda" ],
      "sources": [
        "native/binding/binding.cc", "native/binding/binding_args.cc", "native/binding/trainer_wrap.cc",
        "native/gemm/cpu_features.cc", "native/gemm/thread_pool.cc", "native/gemm/gemm.cc", "native/gemm/gemm_avx2.cc", "native/gemm/gemm_avx512.cc", "native/binding/gemm_binding.cc",
        "native/cells/recurrent.cc", "native/cells/cell_kernels.cc", "native/cells/lstm.cc", "native/cells/gru.cc", "native/cells/rnn.cc", "native/cells/dense.cc", "native/training/loss.cc",
        "native/training/optimizer.cc", "native/training/network.cc", "native/training/trainer.cc"
      ],
      "include_dirs": [ "<!(node -p \"require('node-addon-api').include_dir\")", "native" ],
      "defines": [ "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL" ],
      "cflags!": [ "-fno-exceptions" ],
      "cflags_cc!": [ "-fno-exceptions", "-std=gnu++17" ],
      "cflags_cc": [ "-std=c++17", "-O3", "-fexceptions", "-pthread", "-ffp-contract=off", "-fno-math-errno" ],
      "ldflags": [ "-pthread" ],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "MACOSX_DEPLOYMENT_TARGET": "11.0" },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": [ "/std:c++17" ] } }
    }
  ]
}
