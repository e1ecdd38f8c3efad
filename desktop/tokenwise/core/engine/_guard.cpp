// ggml's abort callback as a C++ exception: a failed GGML_ASSERT while llama.cpp loads a
// model ends in its own try/catch (the load returns NULL with the message logged) instead of
// aborting the process. Installed only around loading (see guard.py): elsewhere, in a
// worker thread above all, an exception would end the process just as abort() does.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdexcept>

#ifdef _WIN32
#define TW_EXPORT extern "C" __declspec(dllexport)
#else
#define TW_EXPORT extern "C" __attribute__((visibility("default")))
#endif

TW_EXPORT void tw_throw_abort(const char *message) {
    throw std::runtime_error(message != nullptr ? message : "GGML_ASSERT failed");
}

static struct PyModuleDef tw_module = {
    PyModuleDef_HEAD_INIT, "_guard", "ggml's abort callback as an exception (via ctypes).",
    -1, nullptr, nullptr, nullptr, nullptr, nullptr,
};

PyMODINIT_FUNC PyInit__guard(void) { return PyModule_Create(&tw_module); }
