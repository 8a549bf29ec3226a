# Every module a target imports is a dependency Package.swift declares for it, and every
# declared dependency is imported (a target that imports what it does not declare builds
# only by luck of the build order). Run by scripts/test.sh; exits 1 on a mismatch.
import glob, os, re
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
pkg=open('Package.swift').read()
targets={}
for m in re.finditer(r'\.(target|executableTarget|testTarget|systemLibrary)\(name: "([\w-]+)"', pkg):
    kind,name=m.groups()
    i=m.end(); depth=1; j=i
    while depth:
        c=pkg[j]; depth+= c=='(' ; depth-= c==')'; j+=1
    body=pkg[i:j]
    d=set()
    k=body.find('dependencies: [')
    if k>=0:
        k+=len('dependencies: ['); depth=1; e=k
        while depth:
            c=body[e]; depth+= c=='['; depth-= c==']'; e+=1
        deps=body[k:e]
        d=set(re.findall(r'"([\w-]+)"', deps))
    targets[name]=(kind,d)
std={'Foundation','Testing','XCTest','Dispatch','Glibc','Darwin','Synchronization'}
bad=0
for name,(kind,deps) in targets.items():
    if kind=='systemLibrary': continue
    base='Tests' if kind=='testTarget' else 'Sources'
    imps=set()
    for f in glob.glob(f'{base}/{name}/**/*.swift',recursive=True):
        for l in open(f):
            mm=re.match(r'\s*(?:@testable\s+)?import\s+(\w+)',l)
            if mm: imps.add(mm.group(1))
    deps={ {'swift-numerics':'Numerics'}.get(x,x) for x in deps }
    missing=imps-deps-std-{name}
    unused=deps-imps-{'Numerics','swift-argument-parser','Yams','swift-numerics'}
    if missing or unused: bad+=1; print(name,'imports undeclared',sorted(missing),'| declared, not imported',sorted(unused))
print(f"Package.swift: {len(targets)} targets, {bad} with imports that do not match their declared dependencies")
raise SystemExit(1 if bad else 0)
