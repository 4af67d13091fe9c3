#pragma once

namespace video2mp3::cli {

// The BSD sysexits(3) values, so scripts can tell bad input from a broken disk.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitDataError = 65;
inline constexpr int kExitNoInput = 66;
inline constexpr int kExitSoftware = 70;
inline constexpr int kExitCannotCreate = 73;
inline constexpr int kExitIoError = 74;
inline constexpr int kExitConfig = 78;

}  // namespace video2mp3::cli
