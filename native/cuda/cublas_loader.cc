// See cublas_loader.h.
#include "cublas_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace rnnx {
namespace cuda {

namespace {

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Dir(const std::string& file) {
  const size_t slash = file.rfind('/');
  return slash == std::string::npos ? std::string() : file.substr(0, slash);
}

void* TryOpen(const std::string& name, std::string* tried) {
  // libcublasLt lives beside libcublas in every distribution (toolkit, pip wheels); loading it
  // from the same folder first keeps a pip-installed cuBLAS from needing LD_LIBRARY_PATH.
  const std::string dir = Dir(name);
  if (!dir.empty()) {
    const std::string base = name.substr(dir.size() + 1);
    const std::string lt = dir + "/" + std::string("libcublasLt") + base.substr(std::string("libcublas").size());
    dlopen(lt.c_str(), RTLD_NOW | RTLD_GLOBAL);
  }
  void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!tried->empty()) *tried += "; ";
  *tried += name;
  if (!h) {
    const char* e = dlerror();
    *tried += std::string(" (") + (e ? e : "not found") + ")";
  }
  return h;
}

CublasApi* Load(std::string* why) {
  static const char* kNames[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("RNNX_CUBLAS_PATH")) {
    const std::string p = env;
    if (IsDir(p)) {
      for (const char* n : kNames) candidates.push_back(p + "/" + n);
    } else if (!p.empty()) {
      candidates.push_back(p);
    }
  }
  for (const char* n : kNames) candidates.push_back(n);
  std::string tried;
  for (const std::string& c : candidates) {
    void* h = TryOpen(c, &tried);
    if (!h) continue;
    auto* api = new CublasApi();
    api->create = reinterpret_cast<decltype(api->create)>(dlsym(h, "cublasCreate_v2"));
    api->destroy = reinterpret_cast<decltype(api->destroy)>(dlsym(h, "cublasDestroy_v2"));
    api->sgemm = reinterpret_cast<decltype(api->sgemm)>(dlsym(h, "cublasSgemm_v2"));
    api->setMathMode = reinterpret_cast<decltype(api->setMathMode)>(dlsym(h, "cublasSetMathMode"));
    api->getVersion = reinterpret_cast<decltype(api->getVersion)>(dlsym(h, "cublasGetVersion_v2"));
    if (!api->create || !api->destroy || !api->sgemm) {
      tried += " (loaded, but cublasCreate_v2/cublasDestroy_v2/cublasSgemm_v2 are missing)";
      delete api;
      dlclose(h);
      continue;
    }
    api->path = c;
    return api;
  }
  *why = "cuBLAS could not be loaded (set RNNX_CUBLAS_PATH to libcublas.so.* or its folder); tried: " + tried;
  return nullptr;
}

}  // namespace

const CublasApi* LoadCublas(std::string* why) {
  static std::once_flag once;
  static CublasApi* api = nullptr;
  static std::string reason;
  std::call_once(once, [] { api = Load(&reason); });
  if (!api && why) *why = reason;
  return api;
}

}  // namespace cuda
}  // namespace rnnx
