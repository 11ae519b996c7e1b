; Inno Setup 6 script: a per-user installer for the Windows bundle, with a Start menu entry and the
; .matte file type.  Untested (no Windows here): build the bundle on Windows first, then
;
;   pyinstaller --noconfirm packaging\matteapp.spec
;   iscc /DAppVersion=0.1.0 packaging\windows\matteapp.iss
;
; AppVersion must be matteapp.__version__ (python -c "import matteapp; print(matteapp.__version__)").
; The installer lands in dist\installer\.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z packaging\windows\matteapp.iss
#endif
#define AppName "matteapp"
#define BundleDir "..\..\dist\matteapp"

[Setup]
; A fixed AppId: upgrades replace the installed version instead of installing beside it.
AppId={{6E0F4A52-3B0C-4D8E-9C1F-8A7B2D5E4F31}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=The matteapp developers
AppPublisherURL=https://github.com/matteapp/matteapp
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per user unless the user asks for all users: no administrator rights needed by default.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist\installer
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=matteapp.ico
UninstallDisplayIcon={app}\matteapp.exe
; torch and Qt are several hundred MB: LZMA2 on the whole set is worth the slower build.
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=yes

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\matteapp.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\matteapp.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Registry]
; .matte projects open in matteapp (HKA: the current user's classes, or the machine's for all users).
Root: HKA; Subkey: "Software\Classes\.matte"; ValueType: string; ValueName: ""; ValueData: "matteapp.Project"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.matte"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-matteapp-project"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\matteapp.Project"; ValueType: string; ValueName: ""; ValueData: "matteapp project"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\matteapp.Project\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\matteapp.exe,0"
Root: HKA; Subkey: "Software\Classes\matteapp.Project\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\matteapp.exe"" ""%1"""
; Offered in Open with for photos, without taking them over.
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\SupportedTypes"; ValueType: string; ValueName: ".jpg"; ValueData: ""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\SupportedTypes"; ValueType: string; ValueName: ".jpeg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\SupportedTypes"; ValueType: string; ValueName: ".tif"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\SupportedTypes"; ValueType: string; ValueName: ".tiff"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\SupportedTypes"; ValueType: string; ValueName: ".webp"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\SupportedTypes"; ValueType: string; ValueName: ".matte"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\matteapp.exe\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\matteapp.exe"" ""%1"""

[Run]
; The console twin checks the installation: model, torch and the sample photo (one line, exit code 0).
Filename: "{app}\matteapp-cli.exe"; Parameters: "--self-test"; Description: "Check the installation (self-test)"; Flags: postinstall skipifsilent unchecked runhidden
Filename: "{app}\matteapp.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
