// Every file the repository's text points to must be in the repository: a reader who follows a
// comment "(math in kernels/delta_rule.h)", a doc link [CHUNKWISE.md](CHUNKWISE.md) or a script's
// "see docs/RESULTS.md" must find the file. This test reads every source, doc and script file of
// the source tree (build outputs, data and tool folders skipped, as in .gitignore), picks out the
// words that look like file names (ending in .md, .h, .cpp, .cu, .py, .sh, ...) and checks that
// each exists, relative to the repository root, to the file's own folder or to a folder above it
// (code in experiments/ names experiments/data/ as "data/..."), or, for a bare name like
// `bible.cpp`, anywhere in the tree. Not checked: #include <...> and CMake find_path lines
// (system and package headers), absolute paths and URLs, words with $, * or { (shell variables,
// globs, CMake variables), and the few files of other projects listed in kExternal below.
#include "tests/catch.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Files of other projects that fwp's comments name on purpose (each with its project).
const std::set<std::string> kExternal = {
    "sacrebleu/metrics/bleu.py",  // sacreBLEU, which experiments/data/bleu.cpp reproduces
    "tokenizer_13a.py",           // sacreBLEU's 13a tokenizer
    "tokenizer_re.py",            // sacreBLEU's 13a tokenizer (its regular expressions)
    "__init__.py",                // a Python package's marker (tests/scripts makes a fake one)
};

// Extensions of the files that are read, and of the words that count as file references.
const std::set<std::string> kTextExtensions = {".md", ".h",  ".hpp", ".cpp",   ".cu", ".cuh",
                                               ".py", ".sh", ".txt", ".cmake", ".yml"};
const std::vector<std::string> kReferenceExtensions = {"md", "hpp", "h",   "cpp", "cuh",
                                                       "cu", "py",  "sh",  "cmake"};

// Folders that hold build outputs, data and tools (the .gitignore list), never read. `top`: the
// folder is at the root (only there are data/ and runs/ generated, not experiments/data/).
bool skipped_folder(const std::string& name, bool top) {
  return name.rfind("build", 0) == 0 || (top && (name == "data" || name == "runs")) ||
         name == "__pycache__" || (name.size() > 1 && name[0] == '.' && name != ".ci");
}

bool reference_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
         c == '-' || c == '+' || c == '$' || c == '*' || c == '{' || c == '}' || c == '~';
}
bool identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The words of one line that name a file: "...name.ext" with ext in kReferenceExtensions, not
// followed by an identifier character (so a name ending in ".c" or ".hpp" is not cut short).
std::vector<std::string> file_words(const std::string& line) {
  std::vector<std::string> out;
  if (line.find("#include <") != std::string::npos || line.find("find_path(") != std::string::npos)
    return out;  // system and package headers
  for (size_t dot = line.find('.'); dot != std::string::npos; dot = line.find('.', dot + 1)) {
    if (dot == 0 || !identifier_char(line[dot - 1])) continue;
    for (const std::string& ext : kReferenceExtensions) {
      if (line.compare(dot + 1, ext.size(), ext) != 0) continue;
      const size_t end = dot + 1 + ext.size();
      if (end < line.size() && identifier_char(line[end])) continue;
      size_t begin = dot;
      while (begin > 0 && reference_char(line[begin - 1])) --begin;
      std::string word = line.substr(begin, end - begin);
      while (!word.empty() && (word[0] == '.' || word[0] == '-' || word[0] == '+') &&
             word.rfind("../", 0) != 0 && word.rfind("./", 0) != 0)
        word.erase(0, 1);  // sentence punctuation before the name
      out.push_back(word);
      break;
    }
  }
  return out;
}

// Every readable text file under root (relative paths), and the set of their base names.
struct RepoIndex {
  fs::path root;
  std::vector<std::string> files;
  std::set<std::string> basenames;
};

RepoIndex index_repository(const fs::path& root) {
  RepoIndex index{root, {}, {}};
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory()) {
      if (skipped_folder(name, it.depth() == 0)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    index.basenames.insert(name);
    const std::string ext = it->path().extension().string();
    const std::string rel = fs::relative(it->path(), root).generic_string();
    if (kTextExtensions.count(ext) || rel.rfind(".ci/", 0) == 0) index.files.push_back(rel);
  }
  std::sort(index.files.begin(), index.files.end());
  return index;
}

// Does `word`, written in the file `from` (relative to the root), name a file that exists?
bool resolves(const RepoIndex& index, const std::string& from, const std::string& word) {
  if (kExternal.count(word)) return true;
  fs::path dir = fs::path(from).parent_path();
  while (true) {
    if (fs::exists(index.root / dir / word)) return true;
    if (dir.empty()) break;
    dir = dir.parent_path();
  }
  return word.find('/') == std::string::npos && index.basenames.count(word);
}

bool unchecked(const std::string& word) {
  return word.empty() || word[0] == '/' || word[0] == '~' ||
         word.find_first_of("${}*") != std::string::npos;
}

// "file:line: word" for every reference in `text` (the contents of `from`) that resolves nowhere.
std::vector<std::string> dangling_references(const RepoIndex& index, const std::string& from,
                                             const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number)
    for (const std::string& word : file_words(line))
      if (!unchecked(word) && !resolves(index, from, word))
        out.push_back(from + ":" + std::to_string(number) + ": " + word);
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("every file the repository's text refers to exists", "[docs][references]") {
  const RepoIndex index = index_repository(FWP_SOURCE_DIR);
  REQUIRE(index.files.size() > 100);  // the walk found the tree
  std::vector<std::string> dangling;
  int words = 0;
  for (const std::string& file : index.files) {
    const std::string text = read_file(index.root / file);
    for (const std::string& d : dangling_references(index, file, text)) dangling.push_back(d);
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) words += int(file_words(line).size());
  }
  std::string report;
  for (const std::string& d : dangling) report += "\n  " + d;
  INFO(dangling.size() << " reference(s) to files that are not in the repository:" << report);
  CHECK(dangling.empty());
  CHECK(words > 500);  // the scan does see the references (there are many)
}

TEST_CASE("the reference checker finds planted dangling references", "[docs][references]") {
  const RepoIndex index = index_repository(FWP_SOURCE_DIR);
  // Every file name here is spelt in pieces, so that this file itself names no missing file.
  const std::string md = ".md", cpp = ".cpp", h = ".h", py = ".py";
  const std::string text =
      "// math in kernels/delta_rule" + h + " and docs/CHUNKWISE" + md + " (both exist)\n"
      "// see PAPER" + md + " section 3 and shared/DESIGN" + md + ".\n"
      "See [the theory](THEORY_NOT_HERE" + md + ") and kernels/cpu/foo" + cpp + ", `tape" + cpp +
      "`,\n"
      "#include <omp" + h + ">\n"
      "out=\"$TMP/table" + md + "\"; ls tests/core/test_*_kernels" + cpp +
      "; https://example.org/a/b" + py + "\n";
  const std::vector<std::string> found = dangling_references(index, "docs/NOTE" + md, text);
  const std::string at2 = "docs/NOTE" + md + ":2: ", at3 = "docs/NOTE" + md + ":3: ";
  CHECK(found == std::vector<std::string>{at2 + "PAPER" + md, at2 + "shared/DESIGN" + md,
                                          at3 + "THEORY_NOT_HERE" + md, at3 + "kernels/cpu/foo" + cpp});
  // relative links resolve from the file's folder and the folders above it
  CHECK(dangling_references(index, "docs/TOUR" + md, "[x](../autograd/tape" + cpp + ") [y](EXTENDING" + md + ")\n").empty());
  CHECK(dangling_references(index, "experiments/lm/lm_eval" + h, "// data/lm_data" + h + "\n").empty());
  CHECK(dangling_references(index, "layers/attention" + h, "// data/lm_data" + h + "\n").size() == 1);
}
