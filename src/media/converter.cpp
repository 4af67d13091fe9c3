#include "video2mp3/media/converter.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

#include <spdlog/spdlog.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <stop_token>
#include <string_view>

#include "media/av_handles.h"
#include "media/avio_bridge.h"
#include "media/ffmpeg_log.h"
#include "media/mp3_writer.h"
#include "media/stream_choice.h"

namespace video2mp3::media {

namespace {

constexpr std::array kCopiedTags = {"title", "artist", "album", "date"};

/// MP3 frames hold 1152 samples per channel in MPEG-1 Layer III.
constexpr int kMp3FrameSamples = 1152;

[[noreturn]] void Fail(MediaErrorKind kind, const std::string& reason) {
    throw MediaError(kind, reason);
}

/// MPEG-1 Layer III allows 32, 44.1 and 48 kHz; players handle the last two everywhere.
/// Rates of the 44.1 kHz family (11.025, 22.05, 88.2, 176.4 kHz) go to 44.1 kHz, the others
/// to whichever of the two is nearer, 48 kHz on a tie.
int ChooseOutputRate(int input_rate) {
    if (input_rate == 44100 || input_rate == 48000) {
        return input_rate;
    }
    if (input_rate % 11025 == 0) {
        return 44100;
    }
    if (input_rate % 8000 == 0) {
        return 48000;
    }
    return std::abs(input_rate - 44100) < std::abs(input_rate - 48000) ? 44100 : 48000;
}

bool IsCopyableMp3(const AVCodecParameters& parameters) {
    return parameters.codec_id == AV_CODEC_ID_MP3 &&
           (parameters.sample_rate == 44100 || parameters.sample_rate == 48000) &&
           (parameters.ch_layout.nb_channels == 1 || parameters.ch_layout.nb_channels == 2);
}

std::string DescribeLayout(const AVChannelLayout& layout) {
    char text[128] = {};
    if (layout.nb_channels <= 0 || av_channel_layout_describe(&layout, text, sizeof(text)) < 0) {
        return {};
    }
    return text;
}

StreamReport DescribeStream(const AVStream& stream) {
    const AVCodecParameters& parameters = *stream.codecpar;
    StreamReport report;
    report.index = stream.index;
    const char* type = av_get_media_type_string(parameters.codec_type);
    report.type = type != nullptr ? type : "unknown";
    report.codec = avcodec_get_name(parameters.codec_id);
    report.is_default = (stream.disposition & AV_DISPOSITION_DEFAULT) != 0;
    report.attached_picture = (stream.disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
    report.has_decoder = avcodec_find_decoder(parameters.codec_id) != nullptr;
    if (parameters.codec_type == AVMEDIA_TYPE_AUDIO) {
        report.sample_rate = parameters.sample_rate;
        report.channels = parameters.ch_layout.nb_channels;
        report.channel_layout = DescribeLayout(parameters.ch_layout);
    }
    if (const AVDictionaryEntry* language = av_dict_get(stream.metadata, "language", nullptr, 0)) {
        report.language = language->value;
    }
    return report;
}

/// Title, artist, album and date, from the container first and then from the audio stream
/// (Ogg and some Matroska files keep their tags on the stream).
AVDictionary* CollectTags(const AVFormatContext& input, const AVStream& audio) {
    AVDictionary* tags = nullptr;
    for (const char* key : kCopiedTags) {
        for (const AVDictionary* source : {input.metadata, audio.metadata}) {
            const AVDictionaryEntry* entry = av_dict_get(source, key, nullptr, 0);
            if (entry == nullptr && std::string_view(key) == "date") {
                entry = av_dict_get(source, "year", nullptr, 0);
            }
            if (entry != nullptr && entry->value[0] != '\0') {
                av_dict_set(&tags, key, entry->value, 0);
                break;
            }
        }
    }
    return tags;
}

/// Reports progress at most once per whole percent.
class ProgressMeter {
 public:
    ProgressMeter(const ProgressCallback& callback, const AVFormatContext& input,
                  const AVStream& audio, std::optional<std::uint64_t> size)
        : callback_(callback), size_(size) {
        if (audio.duration != AV_NOPTS_VALUE && audio.duration > 0) {
            duration_s_ = static_cast<double>(audio.duration) * av_q2d(audio.time_base);
        } else if (input.duration != AV_NOPTS_VALUE && input.duration > 0) {
            duration_s_ = static_cast<double>(input.duration) / AV_TIME_BASE;
        }
        if (audio.start_time != AV_NOPTS_VALUE) {
            start_s_ = static_cast<double>(audio.start_time) * av_q2d(audio.time_base);
        }
        time_base_ = av_q2d(audio.time_base);
    }

    void Update(const AVPacket& packet, std::uint64_t bytes_read) {
        if (!callback_) {
            return;
        }
        double percent = -1;
        if (duration_s_ > 0 && packet.pts != AV_NOPTS_VALUE) {
            percent =
                100.0 * (static_cast<double>(packet.pts) * time_base_ - start_s_) / duration_s_;
        } else if (size_ && *size_ > 0) {
            // The packet's own offset: the reader runs ahead of the decoder while probing.
            const auto offset =
                packet.pos >= 0 ? static_cast<std::uint64_t>(packet.pos) : bytes_read;
            percent = 100.0 * static_cast<double>(offset) / static_cast<double>(*size_);
        }
        Report(percent);
    }

    void Finish() { Report(100); }

 private:
    void Report(double percent) {
        if (!callback_ || percent < 0) {
            return;
        }
        const int whole = static_cast<int>(std::min(percent, 100.0));
        if (whole > last_) {
            last_ = whole;
            callback_(whole);
        }
    }

    const ProgressCallback& callback_;
    std::optional<std::uint64_t> size_;
    double duration_s_ = 0;
    double start_s_ = 0;
    double time_base_ = 0;
    int last_ = -1;
};

/// Decodes the chosen stream, resamples to the MP3's rate and channels, and encodes with
/// LAME. Only the audio stream reaches it; the demuxer discards everything else.
class Transcoder {
 public:
    Transcoder(const AVStream& audio, const ConvertOptions& options, Mp3Writer& writer,
               const AVDictionary* tags)
        : writer_(writer) {
        OpenDecoder(audio);
        OpenEncoder(audio, options);

        AVCodecParameters* parameters = avcodec_parameters_alloc();
        avcodec_parameters_from_context(parameters, encoder_.get());
        output_time_base_ = writer_.Open(*parameters, encoder_->time_base, tags);
        avcodec_parameters_free(&parameters);

        fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, encoder_->ch_layout.nb_channels,
                                        encoder_->frame_size * 4));
        packet_.reset(av_packet_alloc());
        decoded_.reset(av_frame_alloc());
        if (!fifo_ || !packet_ || !decoded_) {
            throw std::bad_alloc();
        }
    }

    ~Transcoder() { av_channel_layout_uninit(&input_layout_); }

    Transcoder(const Transcoder&) = delete;
    Transcoder& operator=(const Transcoder&) = delete;

    /// Feeds one packet of the chosen stream. A packet the decoder rejects is counted, not
    /// fatal: a file damaged in the middle converts what can be decoded.
    void Decode(const AVPacket* packet) {
        const int code = avcodec_send_packet(decoder_.get(), packet);
        if (code < 0 && code != AVERROR_EOF) {
            CountDecodeError(code);
            return;
        }
        ReceiveFrames();
    }

    /// Drains the decoder, resampler and encoder.
    void Finish() {
        Decode(nullptr);
        if (resampler_) {
            Resample(nullptr);
        }
        EncodeFromFifo(true);
        Encode(nullptr);
    }

    std::uint64_t DecodeErrors() const { return decode_errors_; }
    const std::string& LastDecodeError() const { return last_decode_error_; }
    std::int64_t SamplesDecoded() const { return samples_decoded_; }
    std::int64_t SamplesEncoded() const { return samples_encoded_; }
    int OutputRate() const { return encoder_->sample_rate; }
    int OutputChannels() const { return encoder_->ch_layout.nb_channels; }

 private:
    void OpenDecoder(const AVStream& audio) {
        const AVCodec* codec = avcodec_find_decoder(audio.codecpar->codec_id);
        decoder_.reset(avcodec_alloc_context3(codec));
        if (!decoder_) {
            throw std::bad_alloc();
        }
        avcodec_parameters_to_context(decoder_.get(), audio.codecpar);
        decoder_->pkt_timebase = audio.time_base;
        decoder_->thread_count = 1;
        const int code = avcodec_open2(decoder_.get(), codec, nullptr);
        if (code < 0) {
            Fail(MediaErrorKind::kUndecodable,
                 std::string("cannot open the ") + codec->name + " decoder: " + AvErrorText(code));
        }
    }

    void OpenEncoder(const AVStream& audio, const ConvertOptions& options) {
        const AVCodec* codec = avcodec_find_encoder_by_name("libmp3lame");
        if (codec == nullptr) {
            throw std::runtime_error("this FFmpeg build has no libmp3lame encoder");
        }
        encoder_.reset(avcodec_alloc_context3(codec));
        if (!encoder_) {
            throw std::bad_alloc();
        }

        const int rate = ChooseOutputRate(audio.codecpar->sample_rate);
        const int channels = audio.codecpar->ch_layout.nb_channels == 1 ? 1 : 2;
        encoder_->sample_fmt = AV_SAMPLE_FMT_FLTP;
        encoder_->sample_rate = rate;
        av_channel_layout_default(&encoder_->ch_layout, channels);
        encoder_->time_base = AVRational{1, rate};
        if (options.bitrate_kbps) {
            encoder_->bit_rate = static_cast<std::int64_t>(*options.bitrate_kbps) * 1000;
        } else {
            encoder_->flags |= AV_CODEC_FLAG_QSCALE;
            encoder_->global_quality = FF_QP2LAMBDA * options.vbr_quality;
        }

        const int code = avcodec_open2(encoder_.get(), codec, nullptr);
        if (code < 0) {
            throw std::runtime_error("cannot open the MP3 encoder: " + AvErrorText(code));
        }
    }

    void CountDecodeError(int code) {
        ++decode_errors_;
        last_decode_error_ = AvErrorText(code);
    }

    void ReceiveFrames() {
        while (true) {
            const int code = avcodec_receive_frame(decoder_.get(), decoded_.get());
            if (code == AVERROR(EAGAIN) || code == AVERROR_EOF) {
                return;
            }
            if (code < 0) {
                CountDecodeError(code);
                return;
            }
            samples_decoded_ += decoded_->nb_samples;
            Resample(decoded_.get());
            av_frame_unref(decoded_.get());
            EncodeFromFifo(false);
        }
    }

    /// (Re)configures the resampler for the frame's format. Streams may change rate or
    /// channel count midway (ADTS, MPEG-TS); the old resampler is drained first.
    void PrepareResampler(const AVFrame& frame) {
        AVChannelLayout layout{};
        if (frame.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame.ch_layout.nb_channels <= 0) {
            av_channel_layout_default(&layout, std::max(frame.ch_layout.nb_channels, 1));
        } else {
            av_channel_layout_copy(&layout, &frame.ch_layout);
        }

        if (resampler_ && frame.format == input_format_ && frame.sample_rate == input_rate_ &&
            av_channel_layout_compare(&layout, &input_layout_) == 0) {
            av_channel_layout_uninit(&layout);
            return;
        }
        if (resampler_) {
            Resample(nullptr);
        }

        SwrContext* raw = nullptr;
        int code = swr_alloc_set_opts2(
            &raw, &encoder_->ch_layout, AV_SAMPLE_FMT_FLTP, encoder_->sample_rate, &layout,
            static_cast<AVSampleFormat>(frame.format), frame.sample_rate, 0, nullptr);
        resampler_.reset(raw);
        if (code >= 0) {
            // Downmixing 5.1 to stereo adds the centre (dialogue) to both sides; scale the
            // matrix so that the sum cannot clip.
            av_opt_set_double(raw, "rematrix_maxval", 1.0, 0);
            code = swr_init(raw);
        }
        if (code < 0) {
            av_channel_layout_uninit(&layout);
            Fail(MediaErrorKind::kUndecodable,
                 "cannot convert audio with " + std::to_string(frame.ch_layout.nb_channels) +
                     " channels at " + std::to_string(frame.sample_rate) +
                     " Hz: " + AvErrorText(code));
        }

        input_format_ = frame.format;
        input_rate_ = frame.sample_rate;
        av_channel_layout_uninit(&input_layout_);
        input_layout_ = layout;
    }

    /// Converts one decoded frame (or, with nullptr, what the resampler still holds) into
    /// the FIFO that feeds the encoder.
    void Resample(const AVFrame* frame) {
        if (frame != nullptr) {
            PrepareResampler(*frame);
        }
        const int input_samples = frame != nullptr ? frame->nb_samples : 0;
        const int capacity = swr_get_out_samples(resampler_.get(), input_samples);
        if (capacity <= 0) {
            return;
        }
        EnsureResampledCapacity(capacity);

        const int produced = swr_convert(
            resampler_.get(), resampled_->data, capacity,
            frame != nullptr ? const_cast<const std::uint8_t**>(frame->extended_data) : nullptr,
            input_samples);
        if (produced < 0) {
            Fail(MediaErrorKind::kUndecodable, "resampling failed: " + AvErrorText(produced));
        }
        if (produced > 0 &&
            av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(resampled_->data), produced) <
                produced) {
            throw std::bad_alloc();
        }
    }

    void EnsureResampledCapacity(int samples) {
        if (resampled_ && resampled_->nb_samples >= samples) {
            return;
        }
        resampled_.reset(av_frame_alloc());
        if (!resampled_) {
            throw std::bad_alloc();
        }
        resampled_->format = AV_SAMPLE_FMT_FLTP;
        av_channel_layout_copy(&resampled_->ch_layout, &encoder_->ch_layout);
        resampled_->nb_samples = samples;
        if (av_frame_get_buffer(resampled_.get(), 0) < 0) {
            throw std::bad_alloc();
        }
    }

    /// Encodes whole MP3 frames from the FIFO; at the end, also the last short one.
    void EncodeFromFifo(bool final) {
        const int frame_size = encoder_->frame_size;
        while (av_audio_fifo_size(fifo_.get()) >= frame_size ||
               (final && av_audio_fifo_size(fifo_.get()) > 0)) {
            const int samples = std::min(av_audio_fifo_size(fifo_.get()), frame_size);
            FramePtr frame(av_frame_alloc());
            if (!frame) {
                throw std::bad_alloc();
            }
            frame->format = AV_SAMPLE_FMT_FLTP;
            av_channel_layout_copy(&frame->ch_layout, &encoder_->ch_layout);
            frame->sample_rate = encoder_->sample_rate;
            frame->nb_samples = samples;
            if (av_frame_get_buffer(frame.get(), 0) < 0) {
                throw std::bad_alloc();
            }
            av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(frame->data), samples);
            frame->pts = samples_encoded_;
            samples_encoded_ += samples;
            Encode(frame.get());
        }
    }

    void Encode(const AVFrame* frame) {
        int code = avcodec_send_frame(encoder_.get(), frame);
        if (code < 0 && code != AVERROR_EOF) {
            throw std::runtime_error("the MP3 encoder failed: " + AvErrorText(code));
        }
        while (true) {
            code = avcodec_receive_packet(encoder_.get(), packet_.get());
            if (code == AVERROR(EAGAIN) || code == AVERROR_EOF) {
                return;
            }
            if (code < 0) {
                throw std::runtime_error("the MP3 encoder failed: " + AvErrorText(code));
            }
            av_packet_rescale_ts(packet_.get(), encoder_->time_base, output_time_base_);
            writer_.Write(*packet_);
            av_packet_unref(packet_.get());
        }
    }

    Mp3Writer& writer_;
    CodecContextPtr decoder_;
    CodecContextPtr encoder_;
    ResamplerPtr resampler_;
    AudioFifoPtr fifo_;
    PacketPtr packet_;
    FramePtr decoded_;
    FramePtr resampled_;
    AVRational output_time_base_{1, 1};

    int input_format_ = -1;
    int input_rate_ = 0;
    AVChannelLayout input_layout_{};

    std::uint64_t decode_errors_ = 0;
    std::string last_decode_error_;
    std::int64_t samples_decoded_ = 0;
    std::int64_t samples_encoded_ = 0;
};

/// Opens the input through the byte source and describes it. Throws MediaError for empty,
/// unreadable and unrecognised input.
InputFormatPtr OpenInput(AvioBridge& bridge, ByteSource& source, const FfmpegLogCapture& log,
                         ConvertReport& report) {
    report.input_bytes = source.Size();
    if (report.input_bytes && *report.input_bytes == 0) {
        Fail(MediaErrorKind::kEmptyFile, "empty file");
    }

    AVFormatContext* raw = avformat_alloc_context();
    if (raw == nullptr) {
        throw std::bad_alloc();
    }
    raw->pb = bridge.Context();
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;

    int code = avformat_open_input(&raw, nullptr, nullptr, nullptr);
    if (code < 0) {
        // avformat_open_input frees the context on failure.
        bridge.ThrowIfFailed();
        const std::string words = log.LastError();
        if (words.find("moov atom not found") != std::string::npos) {
            // An MP4 written with its index last and cut before it: an interrupted upload.
            Fail(MediaErrorKind::kTruncated,
                 "truncated: the MP4 has no index (moov atom), the file was probably cut short");
        }
        if (code == AVERROR_EOF) {
            Fail(MediaErrorKind::kTruncated, "truncated: the file ends inside its header");
        }
        Fail(MediaErrorKind::kNotMedia, "not a media file");
    }
    InputFormatPtr input(raw);
    report.container = input->iformat->name;

    // Probing decodes a few packets of every stream; one thread each keeps that cheap.
    std::vector<AVDictionary*> probe_options(input->nb_streams, nullptr);
    for (AVDictionary*& options : probe_options) {
        av_dict_set(&options, "threads", "1", 0);
    }
    code = avformat_find_stream_info(input.get(), probe_options.data());
    for (AVDictionary*& options : probe_options) {
        av_dict_free(&options);
    }
    if (code < 0) {
        bridge.ThrowIfFailed();
        const std::string detail = log.LastError();
        Fail(MediaErrorKind::kNotMedia,
             "cannot read the streams: " + (detail.empty() ? AvErrorText(code) : detail));
    }

    if (input->duration != AV_NOPTS_VALUE && input->duration > 0) {
        report.input_duration_s = static_cast<double>(input->duration) / AV_TIME_BASE;
    }
    for (unsigned i = 0; i < input->nb_streams; ++i) {
        report.streams.push_back(DescribeStream(*input->streams[i]));
    }
    return input;
}

/// Reads the next packet of the chosen stream. Returns false at the end of the input; a
/// demuxer error ends the input too, and is kept in `demux_error`.
bool ReadAudioPacket(AVFormatContext& input, int audio_index, AVPacket& packet,
                     std::string& demux_error) {
    while (true) {
        const int code = av_read_frame(&input, &packet);
        if (code == AVERROR_EOF) {
            return false;
        }
        if (code < 0) {
            demux_error = AvErrorText(code);
            return false;
        }
        if (packet.stream_index == audio_index) {
            return true;
        }
        av_packet_unref(&packet);
    }
}

/// The input ran out before the container's index said it would: an upload cut short.
/// Only containers with a sample index (MP4, MOV) can tell.
void FailIfEndedEarly(const AVStream& audio, std::int64_t packets_read) {
    const int indexed = avformat_index_get_entries_count(&audio);
    if (indexed > 0 && packets_read < indexed) {
        Fail(MediaErrorKind::kTruncated, "truncated: the file ends after " +
                                             std::to_string(packets_read) + " of " +
                                             std::to_string(indexed) + " audio packets");
    }
}

double OutputSeconds(const Transcoder& transcoder) {
    return static_cast<double>(transcoder.SamplesEncoded()) /
           static_cast<double>(transcoder.OutputRate());
}

/// How long the container says the audio lasts: the stream's own duration, Matroska's
/// per-track DURATION tag, or, failing both, the whole file's duration.
std::optional<double> DeclaredAudioSeconds(const AVFormatContext& input, const AVStream& audio) {
    if (audio.duration != AV_NOPTS_VALUE && audio.duration > 0) {
        return static_cast<double>(audio.duration) * av_q2d(audio.time_base);
    }
    if (const AVDictionaryEntry* tag = av_dict_get(audio.metadata, "DURATION", nullptr, 0)) {
        int hours = 0;
        int minutes = 0;
        double seconds = 0;
        if (std::sscanf(tag->value, "%d:%d:%lf", &hours, &minutes, &seconds) == 3) {
            return hours * 3600.0 + minutes * 60.0 + seconds;
        }
    }
    if (input.duration != AV_NOPTS_VALUE && input.duration > 0) {
        return static_cast<double>(input.duration) / AV_TIME_BASE;
    }
    return std::nullopt;
}

/// Containers without a sample index (Matroska, WebM) still declare a duration; audio that
/// stops well before it means the upload was cut short.
/// Damaged files (decode errors) convert with a warning instead, and durations FFmpeg
/// only estimated from the bitrate (raw AAC, MP3 without a Xing header, MPEG-TS) say
/// nothing about where the audio should end.
void FailIfCutShort(const AVFormatContext& input, const AVStream& audio, double decoded_s,
                    std::uint64_t decode_errors) {
    if (decode_errors > 0 || input.duration_estimation_method == AVFMT_DURATION_FROM_BITRATE ||
        (input.iformat->flags & AVFMT_TS_DISCONT) != 0) {
        return;
    }
    const std::optional<double> declared = DeclaredAudioSeconds(input, audio);
    if (!declared) {
        return;
    }
    if (decoded_s < *declared * 0.9 - 1.0) {
        char text[160];
        std::snprintf(text, sizeof(text), "truncated: the audio stops at %.1f s of %.1f s",
                      decoded_s, *declared);
        Fail(MediaErrorKind::kTruncated, text);
    }
}

void Transcode(AVFormatContext& input, AvioBridge& bridge, const AVStream& audio,
               const ConvertOptions& options, Mp3Writer& writer, const AVDictionary* tags,
               ProgressMeter& progress, const FfmpegLogCapture& log, ConvertReport& report) {
    Transcoder transcoder(audio, options, writer, tags);
    report.mode = "transcode";
    report.output_sample_rate = transcoder.OutputRate();
    report.output_channels = transcoder.OutputChannels();

    PacketPtr packet(av_packet_alloc());
    std::string demux_error;
    std::int64_t packets_read = 0;
    while (ReadAudioPacket(input, audio.index, *packet, demux_error)) {
        ++packets_read;
        progress.Update(*packet, bridge.Position());
        transcoder.Decode(packet.get());
        av_packet_unref(packet.get());
    }
    bridge.ThrowIfFailed();
    transcoder.Finish();
    FailIfEndedEarly(audio, packets_read);

    if (transcoder.SamplesDecoded() == 0) {
        if (transcoder.DecodeErrors() > 0) {
            const std::string words = log.LastError();
            Fail(MediaErrorKind::kUndecodable,
                 "cannot decode the audio: " +
                     (words.empty() ? transcoder.LastDecodeError() : words));
        }
        Fail(MediaErrorKind::kTruncated, packets_read == 0 ? "truncated: the file holds no audio"
                                                           : "truncated: no audio could be read");
    }

    report.output_duration_s = OutputSeconds(transcoder);
    FailIfCutShort(input, audio, report.output_duration_s, transcoder.DecodeErrors());

    report.decode_errors = transcoder.DecodeErrors();
    if (transcoder.DecodeErrors() > 0) {
        report.warnings.push_back(std::to_string(transcoder.DecodeErrors()) +
                                  " audio packets could not be decoded and were skipped (" +
                                  transcoder.LastDecodeError() + ")");
    }
    if (!demux_error.empty()) {
        report.warnings.push_back("the input stopped early with a read error: " + demux_error);
    }
}

/// MP3 audio that already is MPEG-1 Layer III is copied frame by frame: no quality lost,
/// no encoding time spent.
/// Thrown when MP3 audio turns out not to be copyable after all; the conversion then starts
/// over and re-encodes.
struct CopyRefused {
    std::string reason;
};

/// Decodes each copied frame, so that only clean audio in one format is copied: a frame
/// that fails to decode, or a change of rate or channel count midway (two MP3s joined with
/// cat), would make a file players stumble over.
class CopyVerifier {
 public:
    explicit CopyVerifier(const AVStream& audio)
        : rate_(audio.codecpar->sample_rate), channels_(audio.codecpar->ch_layout.nb_channels) {
        const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_MP3);
        decoder_.reset(avcodec_alloc_context3(codec));
        frame_.reset(av_frame_alloc());
        if (!decoder_ || !frame_) {
            throw std::bad_alloc();
        }
        avcodec_parameters_to_context(decoder_.get(), audio.codecpar);
        decoder_->pkt_timebase = audio.time_base;
        if (avcodec_open2(decoder_.get(), codec, nullptr) < 0) {
            throw CopyRefused{"no MP3 decoder to check the frames with"};
        }
    }

    void Check(const AVPacket& packet) {
        if (avcodec_send_packet(decoder_.get(), &packet) < 0) {
            throw CopyRefused{"some MP3 frames are damaged"};
        }
        while (true) {
            const int code = avcodec_receive_frame(decoder_.get(), frame_.get());
            if (code == AVERROR(EAGAIN) || code == AVERROR_EOF) {
                return;
            }
            if (code < 0) {
                throw CopyRefused{"some MP3 frames are damaged"};
            }
            const bool same =
                frame_->sample_rate == rate_ && frame_->ch_layout.nb_channels == channels_;
            av_frame_unref(frame_.get());
            if (!same) {
                throw CopyRefused{"the MP3 audio changes format midway"};
            }
        }
    }

 private:
    int rate_;
    int channels_;
    CodecContextPtr decoder_;
    FramePtr frame_;
};

void CopyMp3(AVFormatContext& input, AvioBridge& bridge, const AVStream& audio, Mp3Writer& writer,
             const AVDictionary* tags, ProgressMeter& progress, ConvertReport& report) {
    CopyVerifier verifier(audio);
    const int rate = audio.codecpar->sample_rate;
    const AVRational time_base = writer.Open(*audio.codecpar, AVRational{1, rate}, tags);
    report.mode = "copy";
    report.output_sample_rate = rate;
    report.output_channels = audio.codecpar->ch_layout.nb_channels;

    PacketPtr packet(av_packet_alloc());
    std::string demux_error;
    std::int64_t packets_read = 0;
    std::int64_t samples = 0;
    while (ReadAudioPacket(input, audio.index, *packet, demux_error)) {
        ++packets_read;
        progress.Update(*packet, bridge.Position());
        verifier.Check(*packet);

        // Timestamps are renumbered from zero: the source's may start late or jump.
        packet->pts = packet->dts = av_rescale_q(samples, AVRational{1, rate}, time_base);
        packet->duration = av_rescale_q(kMp3FrameSamples, AVRational{1, rate}, time_base);
        packet->pos = -1;
        samples += kMp3FrameSamples;
        writer.Write(*packet);
        av_packet_unref(packet.get());
    }
    bridge.ThrowIfFailed();
    if (packets_read == 0) {
        Fail(MediaErrorKind::kTruncated, "truncated: the file holds no audio");
    }
    FailIfEndedEarly(audio, packets_read);
    if (!demux_error.empty()) {
        report.warnings.push_back("the input stopped early with a read error: " + demux_error);
    }
    report.output_duration_s = static_cast<double>(samples) / rate;
}

}  // namespace

void ValidateOptions(const ConvertOptions& options) {
    if (options.vbr_quality < 0 || options.vbr_quality > 9) {
        throw std::invalid_argument("quality must be between 0 and 9, not " +
                                    std::to_string(options.vbr_quality));
    }
    if (options.bitrate_kbps && (*options.bitrate_kbps < 64 || *options.bitrate_kbps > 320)) {
        throw std::invalid_argument("bitrate must be between 64k and 320k, not " +
                                    std::to_string(*options.bitrate_kbps) + "k");
    }
}

namespace {

void ConvertOnce(ByteSource& source, const std::filesystem::path& output,
                 const ConvertOptions& options, ConvertReport& report,
                 const ProgressCallback& progress_callback, const std::stop_token& stop) {
    FfmpegLogCapture log;
    report.input_name = source.Name();

    // Created first, so that an unusable output is reported before any work is done.
    Mp3Writer writer(output);
    AvioBridge bridge(source, stop);
    InputFormatPtr input = OpenInput(bridge, source, log, report);

    const StreamChoice choice = ChooseAudioStream(report.streams);
    if (!choice.index) {
        Fail(choice.failure, choice.reason);
    }
    report.chosen_stream = choice.index;

    // Only the chosen stream is read further: video, subtitles and other audio are
    // discarded by the demuxer and never decoded.
    for (unsigned i = 0; i < input->nb_streams; ++i) {
        input->streams[i]->discard =
            static_cast<int>(i) == *choice.index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    }
    const AVStream& audio = *input->streams[*choice.index];

    std::unique_ptr<AVDictionary, DictionaryFreer> tags(CollectTags(*input, audio));
    ProgressMeter progress(progress_callback, *input, audio, source.Size());
    if (options.allow_stream_copy && IsCopyableMp3(*audio.codecpar)) {
        CopyMp3(*input, bridge, audio, writer, tags.get(), progress, report);
    } else {
        Transcode(*input, bridge, audio, options, writer, tags.get(), progress, log, report);
    }

    report.output_bytes = writer.Commit();
    report.output_path = output.string();
    if (report.output_duration_s > 0) {
        report.output_bitrate_kbps =
            static_cast<double>(report.output_bytes) * 8 / report.output_duration_s / 1000;
    }
    progress.Finish();
}

}  // namespace

void Convert(ByteSource& source, const std::filesystem::path& output, const ConvertOptions& options,
             ConvertReport& report, const ProgressCallback& progress, std::stop_token stop) {
    ValidateOptions(options);
    InstallFfmpegLogHook();

    // A restart after a refused copy must not send progress backwards.
    double reported = -1;
    const ProgressCallback forward = [&](double percent) {
        if (progress && percent > reported) {
            reported = percent;
            progress(percent);
        }
    };

    try {
        ConvertOnce(source, output, options, report, forward, stop);
    } catch (const CopyRefused& refused) {
        spdlog::debug("{}: not copied, re-encoding: {}", source.Name(), refused.reason);
        ConvertOptions reencode = options;
        reencode.allow_stream_copy = false;
        report = ConvertReport{};
        source.Seek(0);
        ConvertOnce(source, output, reencode, report, forward, stop);
        report.warnings.insert(report.warnings.begin(), refused.reason + ", so it was re-encoded");
    }
}

}  // namespace video2mp3::media
