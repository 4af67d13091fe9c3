// Converts every file of ../shared/media and checks the outcome MANIFEST.tsv expects.
// Skipped when the folder is absent.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "support/media_tools.h"
#include "video2mp3/media/converter.h"
#include "video2mp3/media/file_byte_source.h"

namespace video2mp3::media {
namespace {

struct CorpusEntry {
    std::string file;
    std::string expect;  // ok, fail or any
    std::optional<double> audio_seconds;
    std::optional<int> channels_out;
    std::string title_out;
};

void PrintTo(const CorpusEntry& entry, std::ostream* out) {
    *out << entry.file;
}

std::vector<std::string> SplitTabs(const std::string& line) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    std::string field;
    while (std::getline(stream, field, '\t')) {
        fields.push_back(field);
    }
    return fields;
}

std::vector<CorpusEntry> LoadManifest() {
    std::vector<CorpusEntry> entries;
    const auto dir = testing::SharedMediaDir();
    if (!dir) {
        return entries;
    }
    std::ifstream manifest(*dir / "MANIFEST.tsv");
    std::string line;
    std::getline(manifest, line);
    const std::vector<std::string> header = SplitTabs(line);
    const auto column = [&](const std::string& name) {
        return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) -
                                        header.begin());
    };

    while (std::getline(manifest, line)) {
        std::vector<std::string> fields = SplitTabs(line);
        fields.resize(header.size());
        CorpusEntry entry;
        entry.file = fields[column("file")];
        entry.expect = fields[column("expect")];
        if (!fields[column("audio_seconds")].empty()) {
            entry.audio_seconds = std::stod(fields[column("audio_seconds")]);
        }
        if (!fields[column("channels_out")].empty()) {
            entry.channels_out = std::stoi(fields[column("channels_out")]);
        }
        entry.title_out = fields[column("title_out")];
        entries.push_back(entry);
    }
    return entries;
}

class CorpusTest : public ::testing::TestWithParam<CorpusEntry> {};

TEST_P(CorpusTest, OutcomeMatchesTheManifest) {
    const CorpusEntry& entry = GetParam();
    if (entry.file.empty()) {
        GTEST_SKIP() << "../shared/media is absent";
    }
    testing::TempDir out;
    const auto output = out / "out.mp3";
    FileByteSource source(*testing::SharedMediaDir() / entry.file);
    ConvertReport report;

    std::optional<MediaError> failure;
    try {
        Convert(source, output, {}, report);
    } catch (const MediaError& error) {
        failure = error;
    }

    if (failure) {
        EXPECT_NE(entry.expect, "ok") << entry.file << " failed: " << failure->what();
        EXPECT_FALSE(std::string(failure->what()).empty());
        EXPECT_TRUE(std::filesystem::is_empty(out.Path())) << "a failure must leave no file";
        return;
    }
    EXPECT_NE(entry.expect, "fail") << entry.file << " should have been rejected";

    testing::Mp3Facts facts = testing::InspectMp3(output);
    EXPECT_TRUE(facts.mpeg1_layer3);
    EXPECT_TRUE(facts.has_xing);
    EXPECT_GT(facts.decoded_duration_s, 0);
    if (entry.channels_out) {
        EXPECT_EQ(facts.channels, *entry.channels_out);
    }
    if (entry.audio_seconds) {
        const double tolerance = *entry.audio_seconds > 20 ? *entry.audio_seconds * 0.005 : 0.1;
        EXPECT_NEAR(facts.header_duration_s, *entry.audio_seconds, tolerance) << "header";
        EXPECT_NEAR(facts.decoded_duration_s, *entry.audio_seconds, tolerance) << "decoded";
    }
    if (!entry.title_out.empty()) {
        EXPECT_EQ(facts.tags["title"], entry.title_out);
    }
}

std::vector<CorpusEntry> Entries() {
    std::vector<CorpusEntry> entries = LoadManifest();
    if (entries.empty()) {
        entries.push_back(CorpusEntry{});  // one skipped test says why nothing ran
    }
    return entries;
}

INSTANTIATE_TEST_SUITE_P(SharedMedia, CorpusTest, ::testing::ValuesIn(Entries()),
                         [](const auto& test_info) {
                             std::string name =
                                 test_info.param.file.empty() ? "absent" : test_info.param.file;
                             for (char& c : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(c))) {
                                     c = '_';
                                 }
                             }
                             return name;
                         });

}  // namespace
}  // namespace video2mp3::media
