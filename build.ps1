#!/usr/bin/env pwsh
# One entry point for builders. On Linux, PowerShell comes as a local .NET tool:
#   dotnet tool restore; dotnet pwsh build.ps1 [task ...] [-Configuration Release|Debug]
# Tasks (run in the order given; none = restore kernels build test):
#   restore   NuGet packages and local tools
#   kernels   kernels/*.cu -> the emulated device (build/emulator, g++) and build/kernels/engine_kernels.fatbin (nvcc; skipped, with a note, without it)
#   build     the solution; engine/Kernels.targets puts the fatbin beside Engine.dll
#   test      dotnet test from the repository root (the same command as .ci/run)
#   pack-gpu  Release build + fatbin + .NET runtime into .gpu-pack/ (git-ignored) for the GPU machine, which has no .NET
# Release is the default: the CPU backend is several times slower unoptimised, and it is what pack-gpu ships.
[CmdletBinding()]
param(
    [Parameter(Position = 0, ValueFromRemainingArguments = $true)]
    [ValidateSet('restore', 'kernels', 'build', 'test', 'pack-gpu')]
    [string[]] $Tasks = @('restore', 'kernels', 'build', 'test'),
    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release',
    # The script that packs this machine's .NET runtime for pack-gpu (shared/gpu/README.md): by default the shared
    # folder beside the repository, ../shared/gpu/pack-dotnet.sh.
    [string] $PackDotnet = ''
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

$KernelsBuildDir = 'build/kernels'
$Fatbin = "$KernelsBuildDir/engine_kernels.fatbin"
$PackDir = '.gpu-pack'
if (-not $PackDotnet) { $PackDotnet = Join-Path (Split-Path $PSScriptRoot -Parent) 'shared/gpu/pack-dotnet.sh' }
$done = [System.Collections.Generic.HashSet[string]]::new()

# Native tools do not throw on failure; this makes a non-zero exit stop the build with the command in the message.
function Invoke-Tool([string] $Exe, [string[]] $Arguments) {
    Write-Host "> $Exe $($Arguments -join ' ')" -ForegroundColor DarkGray
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Find-Nvcc {
    $cmd = Get-Command nvcc -ErrorAction SilentlyContinue
    if ($cmd) { return $cmd.Source }
    if (Test-Path /usr/local/cuda/bin/nvcc) { return '/usr/local/cuda/bin/nvcc' }   # the GPU machine's toolkit, often not on PATH
    return $null
}

function Invoke-Restore {
    Invoke-Tool dotnet @('tool', 'restore')
    Invoke-Tool dotnet @('restore', 'Engine.sln')
}

function Invoke-Kernels {
    # cmake builds the emulated CUDA device (emulator/, g++ only) always and the fatbin where nvcc is installed.
    if (-not (Get-Command cmake -ErrorAction SilentlyContinue)) {
        throw "kernels: no cmake: apt-get install cmake g++ (and nvidia-cuda-toolkit clang-14 for the fatbin)"
    }
    $nvcc = Find-Nvcc
    $cmakeArgs = @('-S', '.', '-B', $KernelsBuildDir)
    if ($nvcc) { $cmakeArgs += "-DCMAKE_CUDA_COMPILER=$nvcc" }
    Invoke-Tool cmake $cmakeArgs
    Invoke-Tool cmake @('--build', $KernelsBuildDir, '-j', [string][Environment]::ProcessorCount)
    Write-Host "kernels: the emulated device in build/emulator (docs/emulator.md)"
    if ($nvcc) {
        Write-Host "kernels: $Fatbin ($((Get-Item $Fatbin).Length) bytes)"
    } else {
        Write-Host ("kernels: no nvcc on PATH or in /usr/local/cuda/bin, so no fatbin; the CPU backend, the emulated device " +
            "and the tests do not need one. To compile it here: .ci/run installs Debian's nvcc 11.8 (or see design.md).") -ForegroundColor Yellow
    }
}

function Invoke-Build([string] $Config = $Configuration) {
    $args_ = @('build', 'Engine.sln', '-c', $Config)
    if ($done.Contains('restore')) { $args_ += '--no-restore' }
    Invoke-Tool dotnet $args_
}

function Invoke-Test {
    # Plain `dotnet test` from the root (global.json selects Microsoft.Testing.Platform for xunit v3).
    $args_ = @('test', '-c', $Configuration)
    if ($done.Contains("build:$Configuration")) { $args_ += '--no-build' }
    Invoke-Tool dotnet $args_
}

# The GPU machine has no .NET and no network, and what travels there must stay under 64 MiB. So: one app folder
# (the test output is a superset of trainer's: it references trainer), native assets for linux-x64 only (the other
# RIDs' SkiaSharp builds are ~140 MB), the fatbin beside Engine.dll, and the runtime as a tarball.
function Invoke-PackGpu {
    if (-not $done.Contains('kernels')) { Invoke-Kernels; [void]$done.Add('kernels') }
    if (-not $done.Contains('build:Release')) { Invoke-Build 'Release'; [void]$done.Add('build:Release') }

    $app = Join-Path $PackDir 'app'
    if (Test-Path $app) { Remove-Item -Recurse -Force $app }
    New-Item -ItemType Directory -Force $app | Out-Null
    # The kernels' extern "C" entries are generated from kernels/*.ops (tools/OpGen needs the .NET SDK, which the GPU
    # machine lacks): the pack carries them, so scripts/gpu-check.sh can recompile the kernels there with its nvcc.
    $generated = Join-Path $PackDir 'generated'
    if (Test-Path $generated) { Remove-Item -Recurse -Force $generated }
    if (-not (Test-Path 'build/generated/cuda')) { throw "pack-gpu: build/generated/cuda is missing; the build generates it from kernels/*.ops" }
    Copy-Item 'build/generated/cuda' $generated -Recurse -Force
    foreach ($out in @('trainer/bin/Release/net10.0', 'tests/Engine.Tests/bin/Release/net10.0')) {
        if (-not (Test-Path "$out/Engine.dll")) { throw "pack-gpu: $out has no Engine.dll; the Release build did not produce it" }
        Get-ChildItem $out | Where-Object Name -ne 'runtimes' | Copy-Item -Destination $app -Recurse -Force
        if (Test-Path "$out/runtimes/linux-x64") {
            New-Item -ItemType Directory -Force "$app/runtimes" | Out-Null
            Copy-Item "$out/runtimes/linux-x64" "$app/runtimes" -Recurse -Force
        }
    }

    $hasFatbin = Test-Path "$app/engine_kernels.fatbin"
    if ($hasFatbin) {
        # SASS for three storages of every value kernel is ~10 MB and xz takes it to ~1 MB: the headroom under the
        # 64 MiB carry. env.sh unpacks it beside Engine.dll on the GPU machine.
        Invoke-Tool xz @('-9', '-f', "$app/engine_kernels.fatbin")
    } else {
        Write-Host ("pack-gpu: no kernels fatbin in the pack (no nvcc here); on the GPU machine compile it with " +
            "`cmake -S . -B build/kernels && cmake --build build/kernels` and copy $Fatbin into $app") -ForegroundColor Yellow
    }

    if (Test-Path $PackDotnet) {
        Invoke-Tool bash @($PackDotnet, $PackDir)   # keeps an existing dotnet.tar.xz
    } elseif (-not (Test-Path "$PackDir/dotnet.tar.xz")) {
        Write-Host "pack-gpu: $PackDotnet not found, so the .NET runtime is NOT packed; the GPU machine cannot run the app without it" -ForegroundColor Yellow
    }

    # Sourced on the GPU machine: unpacks the runtime once per machine and puts it on PATH.
    @'
# source .gpu-pack/env.sh   (written by build.ps1 pack-gpu)
_pack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -x /tmp/dn/dotnet ]; then mkdir -p /tmp/dn && tar -C /tmp/dn -xJf "$_pack/dotnet.tar.xz"; fi
if [ -f "$_pack/app/engine_kernels.fatbin.xz" ] && [ ! -f "$_pack/app/engine_kernels.fatbin" ]; then xz -dk "$_pack/app/engine_kernels.fatbin.xz"; fi
export DOTNET_ROOT=/tmp/dn PATH=/tmp/dn:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# then: dotnet "$_pack/app/Engine.Tests.dll"     dotnet "$_pack/app/trainer.dll" ...
'@ | Set-Content -NoNewline "$PackDir/env.sh"

    $commit = (& git rev-parse --short HEAD 2>$null) ?? 'unknown'
    $nvcc = Find-Nvcc
    $nvccVersion = if ($nvcc) { (& $nvcc --version | Select-String 'release').ToString().Trim() } else { 'none' }
    @(
        "commit: $commit$(if (& git status --porcelain 2>$null) { ' (with uncommitted changes)' })",
        "built: $([DateTime]::UtcNow.ToString('u')) on $([Environment]::MachineName), Release",
        "fatbin: $(if ($hasFatbin) { "app/engine_kernels.fatbin.xz (env.sh unpacks it), $nvccVersion" } else { 'none' })",
        'run there: source .gpu-pack/env.sh && dotnet .gpu-pack/app/Engine.Tests.dll'
    ) | Set-Content "$PackDir/MANIFEST.txt"

    $bytes = (Get-ChildItem $PackDir -Recurse -File | Measure-Object Length -Sum).Sum
    Write-Host ("pack-gpu: {0} = {1:N1} MiB (the GPU run carries at most 64 MiB)" -f $PackDir, ($bytes / 1MB))
    if ($bytes -gt 64MB) { throw "pack-gpu: $PackDir is $([math]::Round($bytes / 1MB, 1)) MiB, over the 64 MiB a GPU run can carry" }
}

foreach ($task in $Tasks) {
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $config = if ($task -eq 'pack-gpu') { 'Release' } else { $Configuration }   # the pack is always Release
    Write-Host "=== $task ($config)" -ForegroundColor Cyan
    switch ($task) {
        'restore'  { Invoke-Restore }
        'kernels'  { Invoke-Kernels }
        'build'    { Invoke-Build; [void]$done.Add("build:$Configuration") }
        'test'     { Invoke-Test }
        'pack-gpu' { Invoke-PackGpu }
    }
    [void]$done.Add($task)
    Write-Host ("=== {0}: {1:N1} s" -f $task, $clock.Elapsed.TotalSeconds) -ForegroundColor Cyan
}
