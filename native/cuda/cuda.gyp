# The optional CUDA backend of the training step, as a static library the addon links.
# With nvcc (scripts/detect-nvcc.mjs; RNNX_CUDA=0 forces it off, RNNX_CUDA=1 makes its absence an
# error) the .cu sources are compiled by nvcc for sm_80 and sm_90 (+ PTX for newer GPUs) and the
# CUDA runtime is linked statically, so the addon needs only the driver's libcuda at run time;
# cuBLAS is dlopen'ed when a trainer starts. Without nvcc a stub takes its place: the addon then
# has no CUDA dependency at all, and cudaInfo() says why CUDA is missing.
# The CPU emulation of the CUDA step (emulated.cc, device 'cuda-emulated') is plain C++ and is
# always built: it lets the test suite check the CUDA code path on machines without a GPU.
# Host C++ is compiled with -ffp-contract=off, as binding.gyp's: math/elementwise.h then gives the
# same bits in the CPU cells and in the host emulation. Device code keeps nvcc's fused multiply-add
# (speed): the GPU agrees with the CPU within rounding, not to the bit.
#
# Use from binding.gyp:  "dependencies": [ "native/cuda/cuda.gyp:rnnx_cuda" ]
# and from the binding:  #include "cuda/cuda_backend.h" (CreateCudaBackend, CreateEmulatedBackend, Probe).
{
  'variables': {
    'rnnx_nvcc%': '<!(node ../../scripts/detect-nvcc.mjs)',
    'rnnx_cuda_root%': '<!(node ../../scripts/detect-nvcc.mjs --root)',
    'rnnx_cuda_lib%': '<!(node ../../scripts/detect-nvcc.mjs --lib)',
  },
  'targets': [
    {
      'target_name': 'rnnx_cuda',
      'type': 'static_library',
      'sources': [ 'emulated.cc' ],
      'include_dirs': [ '.', '..' ],
      'cflags!': [ '-fno-exceptions' ],
      'cflags_cc!': [ '-fno-exceptions', '-std=gnu++17' ],
      'cflags': [ '-fPIC' ],
      'cflags_cc': [ '-std=c++17', '-O3', '-fexceptions', '-pthread', '-ffp-contract=off', '-fno-math-errno' ],
      'xcode_settings': { 'GCC_ENABLE_CPP_EXCEPTIONS': 'YES', 'CLANG_CXX_LANGUAGE_STANDARD': 'c++17', 'MACOSX_DEPLOYMENT_TARGET': '11.0' },
      'msvs_settings': { 'VCCLCompilerTool': { 'ExceptionHandling': 1, 'AdditionalOptions': [ '/std:c++17' ] } },
      'conditions': [
        [ 'rnnx_nvcc==""', {
          'sources': [ 'cuda_stub.cc' ],
        }, {
          'sources': [ 'cuda_backend.cu', 'cublas_loader.cc' ],
          'defines': [ 'RNNX_WITH_CUDA=1' ],
          'direct_dependent_settings': { 'defines': [ 'RNNX_WITH_CUDA=1' ] },
          'link_settings': {
            'libraries': [ '<(rnnx_cuda_lib)/libcudart_static.a', '-ldl', '-lrt', '-lpthread' ],
          },
          'rules': [
            {
              'rule_name': 'nvcc',
              'extension': 'cu',
              'inputs': [ 'kernels.h', 'regularize.h', 'step_core.h', 'exec_host.h', 'cuda_backend.h', 'cublas_loader.h',
                          '../cells/random.h', '../training/trainer.h', '../math/elementwise.h', '../host_device.h' ],
              'outputs': [ '<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).o' ],
              'action': [
                '<(rnnx_nvcc)', '-std=c++17', '-O3', '-Xcompiler', '-fPIC', '-Xcompiler', '-ffp-contract=off',
                '-gencode', 'arch=compute_80,code=sm_80',
                '-gencode', 'arch=compute_90,code=sm_90',
                '-gencode', 'arch=compute_90,code=compute_90',
                '-I<(rnnx_cuda_root)/include', '-I..',
                '-c', '<(RULE_INPUT_PATH)', '-o', '<@(_outputs)',
              ],
              'message': 'NVCC <(RULE_INPUT_NAME)',
              'process_outputs_as_sources': 1,
            },
          ],
        } ],
      ],
    },
  ],
}
