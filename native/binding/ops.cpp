// Placeholder: registers nothing yet. The owner of this family replaces it.
#include <napi.h>
namespace tl::binding {
void init_ops(Napi::Env, Napi::Object) {}
}  // namespace tl::binding
