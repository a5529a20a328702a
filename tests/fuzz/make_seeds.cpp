// fuzz_make_seeds DIR: writes the seed corpus of the fuzz targets into DIR/<target>/ (what
// tests/fuzz/corpus holds): small valid inputs of every format, from which libFuzzer mutates.
#include <filesystem>
#include <iostream>

#include "core/file_io.h"
#include "core/safetensors.h"
#include "experiments/common/training_checkpoint.h"
#include "layers/config_json.h"
#include "layers/linear.h"
#include "optim/checkpoint.h"

using namespace fwp;
namespace fs = std::filesystem;

namespace {
struct Net : Module {
  std::shared_ptr<Linear> l1;
  Net() {
    Rng rng(1);
    l1 = register_module("l1", std::make_shared<Linear>(3, 2, rng));
  }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds DIR" << std::endl;
    return 2;
  }
  const fs::path dir = argv[1];
  for (const char* t : {"safetensors", "checkpoint", "config_json", "text_loaders"})
    fs::create_directories(dir / t);
  auto file = [&](const char* target, const std::string& name) { return (dir / target / name).string(); };

  save_safetensors(file("safetensors", "two_tensors"),
                   {{"a", Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3})},
                    {"b", Tensor::scalar(0.5, DType::f64)}},
                   {{"note", "seed"}});
  save_safetensors(file("safetensors", "empty"), {});

  Net net;
  Adam adam(net.parameters());
  Rng data(3);
  experiments::TrainingState st;
  st.tensors = {{"carry", Tensor::from_vector({0.5, 2.0}, {2})}};
  experiments::save_training_checkpoint(file("checkpoint", "training"), net, adam, st,
                                        {{"data", &data}}, "{\"lr\": 1}");
  save_checkpoint(file("checkpoint", "plain"), net, &adam);

  write_file_atomic(file("config_json", "lm"), config_to_json_string(LMConfig{}));
  write_file_atomic(file("config_json", "seq2seq"), config_to_json_string(Seq2SeqConfig{}));
  write_file_atomic(file("config_json", "attention"),
                    config_to_json_string(AttentionConfig::preset("delta", 2, 8)));

  const std::string text[] = {
      std::string("\0", 1) + "fwp-vocab 1\n<eos>\t5\n<unk>\t0\nthe\t3\nbeginning\t1\n",
      "\1in the beginning god created\nthe heaven and the earth .\n",
      "\2<title>The First Book</title>Genesis 1:1: In the <w lemma=\"x\">beginning</w>\n"
      "Genesis 1:2: And the earth\n(WEB)\n",
      "\3<q who=\"Jesus\">Follow me</q>, <transChange type=\"added\">he</transChange> said",
      "\4It's 3.5 km/h -- don't (apt-get) \"quoted\"",
      "\5uno dos\ntres\none two\nthree\n",
      "\6step,eval_loss\n10,0.5\n20,\n",
      "\00720:600:20",
  };
  int i = 0;
  for (const std::string& t : text) write_file_atomic(file("text_loaders", "seed" + std::to_string(i++)), t);
  std::cout << "seeds written to " << dir.string() << std::endl;
  return 0;
}
