// The Python entry point of nasops._C. Importing it loads this shared library, whose static
// TORCH_LIBRARY blocks register the ops; the module itself holds nothing. (Built by setup.py
// only: the CMake build of the same library has no Python.)
#include <Python.h>

extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
